-- Events map onto the columns through the JSONPaths file (by position), songs through JSON 'auto'
-- (by key name). TRUNCATECOLUMNS cuts text to the column widths in bytes, as sparkify's own
-- transform does; MAXERROR is --max-bad-records.
COPY {staging}
FROM {source}
IAM_ROLE {iam_role}
FORMAT AS JSON {json_format}
{region}
TRUNCATECOLUMNS
MAXERROR {max_errors}
COMPUPDATE OFF
STATUPDATE OFF;
