"""Sales data: the database engine and tables, sales, products, sales tokens, CSV import, demo data."""
