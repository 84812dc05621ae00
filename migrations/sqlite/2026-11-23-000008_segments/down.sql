DROP TABLE segment_members;
DROP TABLE segment_versions;
DROP TABLE segments;
