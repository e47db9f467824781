-- The tables of brands-and-packages.yaml, as a Rails app's migrations make them on SQLite
-- (surrogate ids, unique natural keys, a foreign key from packages to brands).
CREATE TABLE IF NOT EXISTS brands (
  id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  code varchar NOT NULL,
  name varchar NOT NULL,
  active boolean DEFAULT 1 NOT NULL,
  created_at datetime(6) NOT NULL,
  updated_at datetime(6) NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS index_brands_on_code ON brands (code);
CREATE TABLE IF NOT EXISTS packages (
  id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  code varchar NOT NULL,
  name varchar NOT NULL,
  brand_id integer NOT NULL REFERENCES brands (id),
  price decimal(10, 2),
  sessions integer DEFAULT 1 NOT NULL,
  created_at datetime(6) NOT NULL,
  updated_at datetime(6) NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS index_packages_on_code ON packages (code);
CREATE INDEX IF NOT EXISTS index_packages_on_brand_id ON packages (brand_id);
