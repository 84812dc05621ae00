DROP TABLE vouchers;
DROP TABLE voucher_campaigns;
