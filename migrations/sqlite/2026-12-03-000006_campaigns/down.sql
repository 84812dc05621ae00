DROP TABLE campaign_members;
DROP TABLE campaigns;
