DROP TABLE profile_scores;
DROP TABLE clv_models;
