ANALYZE {stage};
