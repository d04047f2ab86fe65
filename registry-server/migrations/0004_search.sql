-- The shared backend's search index: each package's index terms as a
-- tsvector, one weight label per term (A: the bare name, B: a name term,
-- C: a keyword or category, D: a description word), found through a GIN
-- index and scored with the ranking rules of store/search.rs
-- (store/fulltext.rs). Package ids are the packages tree's record ids.
CREATE TABLE shire_search (
    package_id INTEGER PRIMARY KEY,
    doc TSVECTOR NOT NULL
);
-- fastupdate off: GIN's pending list of recent inserts is read in full by
-- every query until a vacuum merges it (2.3 ms against 0.9 ms for a query
-- at 3,000 packages); a publish writes its few entries into the index itself.
CREATE INDEX shire_search_doc ON shire_search USING GIN (doc) WITH (fastupdate = off);
-- The posting lists the first shared layout kept as rows of the search tree
-- (tree 8) are replaced by this table; a process that finds it behind the
-- packages tree rebuilds it at start.
DELETE FROM shire_trees WHERE tree = 8;
