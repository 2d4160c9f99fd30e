package clickhouse

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

// updateDashboard rewrites the dashboard file from Dashboard:
//
//	go test ./connectors/clickhouse -run TestDashboardFile -update-dashboard
var updateDashboard = flag.Bool("update-dashboard", false, "rewrite deploy/grafana/dashboards/mailtriage-kpis.json from Dashboard()")

// dashboardFile is the provisioned dashboard, relative to this package.
const dashboardFile = "../../deploy/grafana/dashboards/mailtriage-kpis.json"

func TestDashboardFileIsGenerated(t *testing.T) {
	generated, err := Dashboard()
	if err != nil {
		t.Fatalf("Dashboard: %v", err)
	}
	if *updateDashboard {
		if err := os.WriteFile(dashboardFile, generated, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatalf("reading %s: %v; run this test with -update-dashboard to write it", dashboardFile, err)
	}
	if !bytes.Equal(stored, generated) {
		t.Errorf("%s differs from Dashboard(): run go test ./connectors/clickhouse -run TestDashboardFile -update-dashboard", dashboardFile)
	}
}

// TestDashboardPanelsRunTestedSQL parses the stored dashboard and checks
// that each panel's SQL is the SQL of a panel of Panels, which the KPI
// test runs on ClickHouse.
func TestDashboardPanelsRunTestedSQL(t *testing.T) {
	stored, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatalf("reading %s: %v", dashboardFile, err)
	}
	var dashboard struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				Type string `json:"type"`
				UID  string `json:"uid"`
			} `json:"datasource"`
			Targets []struct {
				RawSQL string `json:"rawSql"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(stored, &dashboard); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	if dashboard.UID != DashboardUID {
		t.Errorf("dashboard uid %q, expected %q", dashboard.UID, DashboardUID)
	}

	panels := Panels()
	if len(dashboard.Panels) != len(panels) {
		t.Fatalf("dashboard has %d panels, expected %d", len(dashboard.Panels), len(panels))
	}
	for i, p := range dashboard.Panels {
		if p.Title != panels[i].Title {
			t.Errorf("panel %d is %q, expected %q", i, p.Title, panels[i].Title)
		}
		if p.Datasource.Type != "grafana-clickhouse-datasource" || p.Datasource.UID != DashboardDatasourceUID {
			t.Errorf("panel %q queries data source %s/%s, expected grafana-clickhouse-datasource/%s", p.Title, p.Datasource.Type, p.Datasource.UID, DashboardDatasourceUID)
		}
		if len(p.Targets) != 1 {
			t.Errorf("panel %q has %d queries, expected 1", p.Title, len(p.Targets))
			continue
		}
		if p.Targets[0].RawSQL != panels[i].GrafanaSQL() {
			t.Errorf("panel %q: its SQL is not the GrafanaSQL of the tested panel", p.Title)
		}
	}
}

// TestGrafanaSQLMatchesGoSQL replaces the dashboard variables and the
// data source macros in each panel's SQL the way Grafana and the data
// source do, and checks that the result is the SQL that the Go queries
// run for the same database, tenant and time range.
func TestGrafanaSQLMatchesGoSQL(t *testing.T) {
	q, err := NewKPIQueries(nil, DefaultDatabase, Tables{})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	expand := strings.NewReplacer(
		"${database}", DefaultDatabase,
		"${tenant:singlequote}", "'acme'",
		"$__fromTime", "toDateTime(1740787200)",
		"$__toTime", "toDateTime(1743465600)",
	)
	for _, p := range Panels() {
		grafana := expand.Replace(p.GrafanaSQL())
		goSQL := q.PanelSQL(p, Filter{Tenant: "acme", From: from, To: to})
		if grafana != goSQL {
			t.Errorf("panel %q: Grafana SQL after expansion differs from the Go SQL:\n%s\n---\n%s", p.Title, grafana, goSQL)
		}
		if strings.Contains(grafana, "$") || strings.Contains(grafana, "{") {
			t.Errorf("panel %q: unexpanded variable or token left in %s", p.Title, grafana)
		}
	}
}

func TestQuoteString(t *testing.T) {
	tests := map[string]string{
		"acme":      `'acme'`,
		"o'brien":   `'o\'brien'`,
		`back\lash`: `'back\\lash'`,
		"":          `''`,
	}
	for in, want := range tests {
		if got := quoteString(in); got != want {
			t.Errorf("quoteString(%q) = %s, expected %s", in, got, want)
		}
	}
}
