LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE;

CREATE TEMP TABLE stage_users (LIKE users INCLUDING DEFAULTS) ON COMMIT DROP;

COPY stage_users (user_id, first_name, last_name, gender, level, level_at) FROM STDIN (FORMAT binary);

SELECT count(*) FROM stage_users;

ANALYZE stage_users;

DELETE FROM users
USING stage_users
WHERE users.user_id = stage_users.user_id
  AND users.level_at <= stage_users.level_at;

INSERT INTO users (user_id, first_name, last_name, gender, level, level_at)
SELECT stage_users.user_id, stage_users.first_name, stage_users.last_name, stage_users.gender, stage_users.level, stage_users.level_at
FROM stage_users
WHERE NOT EXISTS (
    SELECT 1 FROM users
    WHERE users.user_id = stage_users.user_id
);
