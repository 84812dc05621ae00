DROP TABLE tracking_violations;
DROP TABLE tracking_plans;
