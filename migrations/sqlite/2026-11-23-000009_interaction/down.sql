DROP TABLE improvements;
DROP TABLE case_history;
DROP TABLE cases;
DROP TABLE feedback;
DROP TABLE surveys;
