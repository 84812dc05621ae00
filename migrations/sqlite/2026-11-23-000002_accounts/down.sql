DROP TABLE account_members;
DROP TABLE accounts;
