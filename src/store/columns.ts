/** The shape of a bulk insert's rows and columns (db.ts renders them as SQL). */

/** How a column is written as a SQL literal. */
export type ColumnKind = 'int' | 'real' | 'text' | 'hex';

/** A row as a tuple in the column order of its table's COLUMNS list (compact in memory and in the spool). */
export type RowTuple = readonly (number | string | null)[];

/** A column of a bulk insert: its name, how its values are written, and whether it may be left out when NULL. */
export interface Column<T> {
  readonly name: keyof T & string;
  readonly kind: ColumnKind;
  /** Nullable without a default: a column that is NULL in every row of a batch is left out of its INSERT. */
  readonly nullable: boolean;
}
