DROP TABLE purchase_summaries;
