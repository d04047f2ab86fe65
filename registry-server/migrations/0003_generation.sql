-- A count every write that changes what a cached document shows moves (in its
-- own transaction), so each process of a shared node can tell whether the
-- documents it keeps are still current with one read.
CREATE TABLE shire_generation (
    id SMALLINT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO shire_generation (id, n) VALUES (1, 0);
