-- The tables of therapists-and-schedules.yaml, as a Rails app's migrations make them on SQLite
-- (surrogate ids, unique natural keys, a soft-delete column, a foreign key from schedules to
-- therapists).
CREATE TABLE IF NOT EXISTS therapists (
  id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  employee_id varchar NOT NULL,
  name varchar NOT NULL,
  email varchar NOT NULL,
  phone varchar,
  employment varchar,
  status varchar,
  discarded_at datetime(6),
  created_at datetime(6) NOT NULL,
  updated_at datetime(6) NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS index_therapists_on_employee_id ON therapists (employee_id);
CREATE TABLE IF NOT EXISTS schedules (
  id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  employee_id varchar NOT NULL,
  therapist_id integer NOT NULL REFERENCES therapists (id),
  location varchar,
  days varchar,
  starts_at varchar,
  ends_at varchar,
  created_at datetime(6) NOT NULL,
  updated_at datetime(6) NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS index_schedules_on_employee_id ON schedules (employee_id);
CREATE INDEX IF NOT EXISTS index_schedules_on_therapist_id ON schedules (therapist_id);
