ANALYZE {name};
