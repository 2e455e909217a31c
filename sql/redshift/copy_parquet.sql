COPY {into} ({columns})
FROM {manifest}
IAM_ROLE {iam_role}
FORMAT AS PARQUET
MANIFEST;
