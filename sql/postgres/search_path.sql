-- Unqualified names resolve in the configured schema only (never in public).
SET search_path TO {schema};
