-- sparkify parses the JSON files itself and streams the records in, cut to the column widths (as
-- Redshift's TRUNCATECOLUMNS does); records it rejects are not staged.
COPY {staging} ({columns}) FROM STDIN (FORMAT binary);
