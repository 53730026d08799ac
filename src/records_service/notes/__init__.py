"""Write-once notes that let the blob store describe what is not a record's own content.

A record's versions, sidecars and change notes live under ``records/<id>/`` and go
when the record is disposed of. Three things must outlive that, or never had a
record to live under, and are written as notes under ``notes/``:

* a **disposal note** when a disposition is carried out (the record, what was
  disposed of, the disposition and its decision);
* a **contract note** when a contract is created or edited (its full details);
* a **hold note** when a hold is placed or released.

Each is queued in the transaction of the change it follows and written by the
background worker, like a sidecar (:mod:`records_service.notes.queue`), and read
back by ``recover --from-store`` (:mod:`records_service.notes.read`). The layout
is in docs/storage.md.
"""
