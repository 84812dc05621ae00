DROP TABLE profile_rfm;
