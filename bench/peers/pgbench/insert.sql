INSERT INTO inserts (payload) VALUES ('{}');
