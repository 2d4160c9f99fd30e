package smtpsink

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// AllTenants is the tenant of a suppression-list entry that applies to
// every tenant.
const AllTenants = "*"

// Suppress adds address to the suppression list of tenant (AllTenants for
// every tenant) with a free-text reason, or updates the reason of an entry
// that exists. The sink sends no automatic reply to a listed address. The
// same in SQL:
//
//	INSERT INTO autoreply_suppressions (tenant, address, reason)
//	VALUES ('acme', lower('ana@example.com'), 'asked to stop')
//	ON CONFLICT (tenant, address) DO UPDATE SET reason = EXCLUDED.reason;
func Suppress(ctx context.Context, pool *pgxpool.Pool, tenant, address, reason string) error {
	address = normalizeAddress(address)
	if tenant == "" || !strings.Contains(address, "@") {
		return fmt.Errorf("invalid suppression entry: tenant %q and address must be set, the address as local@domain", tenant)
	}
	_, err := pool.Exec(ctx, `INSERT INTO autoreply_suppressions (tenant, address, reason) VALUES ($1, $2, $3)
		ON CONFLICT (tenant, address) DO UPDATE SET reason = EXCLUDED.reason`, tenant, address, reason)
	if err != nil {
		return fmt.Errorf("adding an address to the suppression list of tenant %s: %w", tenant, err)
	}
	return nil
}

// normalizeAddress trims white space and angle brackets and lower-cases
// the address, as the suppression list stores it.
func normalizeAddress(address string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(address), "<>"))
}
