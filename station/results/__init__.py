"""The results store: every unit record as rows (SQLAlchemy Core), local SQLite and a central database."""
