DROP TABLE merges;
DROP TABLE events;
DROP TABLE identities;
DROP TABLE profiles;
DROP TABLE users;
DROP TABLE api_keys;
DROP TABLE sources;
