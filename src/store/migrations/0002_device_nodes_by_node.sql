-- 0002: device_nodes clustered by node. A push reads one node's whole peer
-- set; with rowid order (device after device) a node's 10,000 rows sat on
-- every page of the table, so each push read all of it (100 nodes x 10,000
-- devices: 100 times a 90 MB table). As a WITHOUT ROWID table keyed
-- (node_id, device_id) a node's rows are contiguous and come out in device
-- order; the index by device serves revocation, removal and the per-device
-- lookups.
CREATE TABLE device_nodes_new (
	node_id    INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	device_id  INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	psk        BLOB NOT NULL CHECK (length(psk) = 32),
	version    INTEGER NOT NULL DEFAULT 1,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (node_id, device_id)
) WITHOUT ROWID;
INSERT INTO device_nodes_new (node_id, device_id, psk, version, created_at, updated_at)
	SELECT node_id, device_id, psk, version, created_at, updated_at FROM device_nodes;
DROP TABLE device_nodes;
ALTER TABLE device_nodes_new RENAME TO device_nodes;
CREATE INDEX device_nodes_by_device ON device_nodes (device_id);
