LOCK {table};
