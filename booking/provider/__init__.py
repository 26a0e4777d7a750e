"""The provider's pages: the daily list and the procedure record (views), and the record's form (forms)."""
