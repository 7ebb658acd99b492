// The pool type for code outside db/, which does not import pg itself (lint: pg stays in db/).
import type pg from 'pg';

export type DbPool = pg.Pool;
