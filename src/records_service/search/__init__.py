"""Search as a use case of the records domain, over an engine from :mod:`records_service.indexing`.

This package owns what search means for records: the documents built from the
database (:mod:`.documents`), the feed that keeps the index in step with the
``index_tasks`` queue and rebuilds it (:mod:`.feed`), the choice of engine
(:mod:`.engine`), searching as a user with visibility and audit
(:mod:`.service`), and the API's view of a result (:mod:`.schemas`). The queue
table itself, :class:`records_service.records.models.IndexTask`, belongs to the
records domain, which writes it in the same transaction as each change.
"""
