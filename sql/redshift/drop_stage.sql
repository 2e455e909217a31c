DROP TABLE {stage};
