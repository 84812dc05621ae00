DROP TABLE loyalty_rewards;
DROP TABLE loyalty_ledger;
DROP TABLE loyalty_accounts;
DROP TABLE loyalty_program;
