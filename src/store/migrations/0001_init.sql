-- 0001: the controller's first schema (DESIGN.md §11, "Controller store as
-- built"). Every mutable row has version (1 on insert, +1 per update) and
-- updated_at (Unix seconds); times are Unix seconds, 0 meaning never.
-- Booleans are INTEGER 0/1, keys are 32-byte BLOBs.

-- Small settings (fleet subnets once allocation starts, the audit head).
CREATE TABLE settings (
	key        TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	version    INTEGER NOT NULL DEFAULT 1,
	updated_at INTEGER NOT NULL
);

-- Operators of the admin UI/API; pwhash is an Argon2id string.
CREATE TABLE admins (
	id          INTEGER PRIMARY KEY,
	username    TEXT NOT NULL UNIQUE,
	pwhash      TEXT NOT NULL,
	disabled_at INTEGER NOT NULL DEFAULT 0,
	version     INTEGER NOT NULL DEFAULT 1,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);

CREATE TABLE users (
	id         INTEGER PRIMARY KEY,
	email      TEXT NOT NULL UNIQUE,
	name       TEXT NOT NULL DEFAULT '',
	version    INTEGER NOT NULL DEFAULT 1,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- host is the device's index in the fleet subnets: addr4 and addr6 are the
-- subnets' base plus host, fixed for the device's life.
CREATE TABLE devices (
	id         INTEGER PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
	name       TEXT NOT NULL,
	awg_public BLOB NOT NULL UNIQUE CHECK (length(awg_public) = 32),
	enc_public BLOB NOT NULL CHECK (length(enc_public) = 32),
	host       INTEGER NOT NULL UNIQUE CHECK (host >= 2),
	addr4      TEXT NOT NULL UNIQUE,
	addr6      TEXT NOT NULL UNIQUE,
	revoked_at INTEGER NOT NULL DEFAULT 0,
	version    INTEGER NOT NULL DEFAULT 1,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (user_id, name)
);

CREATE TABLE nodes (
	id              INTEGER PRIMARY KEY,
	name            TEXT NOT NULL UNIQUE,
	region          TEXT NOT NULL DEFAULT '',
	ssh_user        TEXT NOT NULL,
	ssh_host        TEXT NOT NULL,
	ssh_port        INTEGER NOT NULL CHECK (ssh_port BETWEEN 1 AND 65535),
	host_key_fp     TEXT NOT NULL DEFAULT '',
	state           TEXT NOT NULL DEFAULT 'pending'
	                CHECK (state IN ('pending', 'active', 'unreachable', 'stopped')),
	awg_public      BLOB CHECK (awg_public IS NULL OR length(awg_public) = 32),
	obfuscation     TEXT NOT NULL DEFAULT '',
	reality_public  BLOB CHECK (reality_public IS NULL OR length(reality_public) = 32),
	control_host    TEXT NOT NULL DEFAULT '',
	control_port    INTEGER NOT NULL DEFAULT 8444 CHECK (control_port BETWEEN 0 AND 65535),
	endpoints       TEXT NOT NULL DEFAULT '',   -- entry pool addresses, space-separated
	port_lo         INTEGER NOT NULL DEFAULT 443,
	port_hi         INTEGER NOT NULL DEFAULT 443,
	forwarding      INTEGER NOT NULL DEFAULT 1,
	masquerade      INTEGER NOT NULL DEFAULT 1,
	isolation       INTEGER NOT NULL DEFAULT 1,
	intended_rev    INTEGER NOT NULL DEFAULT 0,
	applied_rev     INTEGER NOT NULL DEFAULT 0,
	misses          INTEGER NOT NULL DEFAULT 0,
	last_seen       INTEGER NOT NULL DEFAULT 0,
	last_stale_heal INTEGER NOT NULL DEFAULT 0,
	binary_version  TEXT NOT NULL DEFAULT '',
	version         INTEGER NOT NULL DEFAULT 1,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	CHECK (port_lo BETWEEN 0 AND 65535 AND port_hi BETWEEN port_lo AND 65535),
	CHECK ((masquerade = 0 AND isolation = 0) OR forwarding = 1)
);

-- One AmneziaWG peer per device x node, with its own 256-bit preshared key.
-- The controller keeps the PSK because it must push it to the node and
-- seal it into the device's profile.
CREATE TABLE device_nodes (
	device_id  INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
	node_id    INTEGER NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
	psk        BLOB NOT NULL CHECK (length(psk) = 32),
	version    INTEGER NOT NULL DEFAULT 1,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (device_id, node_id)
);
CREATE INDEX device_nodes_by_node ON device_nodes (node_id);

-- Every certificate the CA issued.
CREATE TABLE certs (
	serial      TEXT PRIMARY KEY,
	role        TEXT NOT NULL CHECK (role IN ('controller', 'node', 'relay', 'device', 'ca')),
	subject     TEXT NOT NULL,
	fingerprint TEXT NOT NULL UNIQUE,
	not_before  INTEGER NOT NULL,
	not_after   INTEGER NOT NULL,
	revoked_at  INTEGER NOT NULL DEFAULT 0,
	version     INTEGER NOT NULL DEFAULT 1,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX certs_by_subject ON certs (role, subject);

-- The newest sealed .pharos file per device: ciphertext and signature only.
CREATE TABLE profiles (
	device_id  INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
	revision   INTEGER NOT NULL,
	sealed     BLOB NOT NULL,
	version    INTEGER NOT NULL DEFAULT 1,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- The audit hash chain. Append-only: no version, no updated_at.
CREATE TABLE audit (
	seq       INTEGER PRIMARY KEY,
	ts        INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	detail    TEXT NOT NULL,
	prev_hash BLOB NOT NULL,
	hash      BLOB NOT NULL
);
CREATE INDEX audit_by_ts ON audit (ts);
