"""The transparency register under the Elected Local Policing Bodies (Specified
Information) Order 2011: which contracts, tenders, crime and disorder reduction grants
and decisions of significant public interest must be published, derived from the case
files; which have been, when and where; and what is overdue or has no copy held."""
