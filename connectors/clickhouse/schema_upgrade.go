package clickhouse

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// addedColumn is a column of the decisions table that an earlier layout
// lacked, with the column it follows, so that an upgraded table has the
// columns in the order of a new one.
type addedColumn struct {
	name, typ, after string
}

// addedColumns lists the columns added after the first layout, oldest
// first. top_labels and top_probabilities keep every top label of a model
// decision, not only the best one.
var addedColumns = []addedColumn{
	{"top_labels", "Array(String)", "top_probability"},
	{"top_probabilities", "Array(Float64)", "top_labels"},
}

// addMissingColumns adds the columns of addedColumns that the table lacks.
// ClickHouse 18.16 rejects ADD COLUMN IF NOT EXISTS, so the columns are
// read from system.columns first. When two sinks upgrade one table at
// once, the ALTER of the second fails because the column exists, so a
// failed ALTER counts as success once the column is there.
func addMissingColumns(ctx context.Context, conn driver.Conn, database, table string) error {
	present, err := tableColumns(ctx, conn, database, table)
	if err != nil {
		return err
	}
	for _, c := range addedColumns {
		if present[c.name] {
			continue
		}
		stmt := fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s AFTER %s",
			qualifiedName(database, table), quoteIdentifier(c.name), c.typ, quoteIdentifier(c.after))
		if err := conn.Exec(ctx, stmt); err != nil {
			again, readErr := tableColumns(ctx, conn, database, table)
			if readErr != nil || !again[c.name] {
				return fmt.Errorf("adding column %s to %s: %w", c.name, qualifiedName(database, table), err)
			}
		}
		present[c.name] = true
	}
	return nil
}

// tableColumns returns the names of the table's columns.
func tableColumns(ctx context.Context, conn driver.Conn, database, table string) (map[string]bool, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM system.columns WHERE database = ? AND table = ?", database, table)
	if err != nil {
		return nil, fmt.Errorf("listing the columns of %s: %w", qualifiedName(database, table), err)
	}
	defer rows.Close()
	names := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("listing the columns of %s: %w", qualifiedName(database, table), err)
		}
		names[name] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the columns of %s: %w", qualifiedName(database, table), err)
	}
	return names, nil
}
