package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeModelData writes a CSV with the header body,intent and 30 rows for
// each of three labels with distinct vocabularies.
func writeModelData(t *testing.T, dir string) string {
	t.Helper()
	vocab := map[string][]string{
		"billing":  {"invoice", "refund", "charged twice", "payment failed", "receipt"},
		"shipping": {"parcel", "delivery", "tracking number", "courier", "package lost"},
		"login":    {"password", "reset link", "locked out", "two factor code", "sign in"},
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"id", "body", "intent"})
	for _, label := range []string{"billing", "shipping", "login"} {
		words := vocab[label]
		for i := range 30 {
			text := fmt.Sprintf("Hello, about my %s and the %s, question %d", words[i%5], words[(i+2)%5], i)
			w.Write([]string{fmt.Sprint(i), text, label})
		}
	}
	w.Flush()
	path := filepath.Join(dir, "data.csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestModelTrainThenEval(t *testing.T) {
	dir := t.TempDir()
	data := writeModelData(t, dir)
	modelPath := filepath.Join(dir, "model.bin")
	holdout := filepath.Join(dir, "holdout.jsonl")

	var out bytes.Buffer
	err := modelCommand(context.Background(), []string{"train", "--data", data, "--text-col", "body", "--label-col", "intent",
		"--validation", "0.1", "--seed", "3", "--hash-bits", "14", "--date", "2025-03-01", "--out", modelPath, "--holdout-out", holdout}, &out)
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out.String())
	}
	for _, expected := range []string{"training on 81, validating on 9", "validation accuracy 1.0000, macro-F1 1.0000", "wrote 9 held-out rows"} {
		if !strings.Contains(out.String(), expected) {
			t.Errorf("train output lacks %q:\n%s", expected, out.String())
		}
	}
	version := regexp.MustCompile(`wrote model (2025-03-01-[0-9a-f]{12}) to `).FindStringSubmatch(out.String())
	if version == nil {
		t.Fatalf("train output names no model version:\n%s", out.String())
	}

	out.Reset()
	err = modelCommand(context.Background(), []string{"eval", "--model", modelPath, "--data", holdout, "--text-col", "body", "--label-col", "intent", "--json"}, &out)
	if err != nil {
		t.Fatalf("eval: %v", err)
	}
	var report evalReport
	if err := json.Unmarshal(out.Bytes(), &report); err != nil {
		t.Fatalf("eval --json printed invalid JSON (%v):\n%s", err, out.String())
	}
	if report.ModelVersion != version[1] || report.Examples != 9 || report.Accuracy != 1 || report.MacroF1 != 1 {
		t.Errorf("report %+v, expected version %s, 9 rows, accuracy 1 and macro-F1 1", report, version[1])
	}
	if len(report.Labels) != 3 || report.Labels[0].Label != "billing" || report.Labels[0].Support != 3 || len(report.Confusions) != 0 {
		t.Errorf("per-label metrics %+v and confusions %+v, expected 3 labels with support 3 and no confusions", report.Labels, report.Confusions)
	}

	out.Reset()
	if err := modelCommand(context.Background(), []string{"eval", "--model", modelPath, "--data", data, "--text-col", "body", "--label-col", "intent"}, &out); err != nil {
		t.Fatalf("eval table: %v", err)
	}
	for _, expected := range []string{"accuracy ", "macro-F1 ", "precision", "shipping", "90 rows"} {
		if !strings.Contains(out.String(), expected) {
			t.Errorf("eval table lacks %q:\n%s", expected, out.String())
		}
	}
}

func TestModelCommandErrors(t *testing.T) {
	dir := t.TempDir()
	data := writeModelData(t, dir)
	notModel := filepath.Join(dir, "not-a-model.bin")
	if err := os.WriteFile(notModel, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		expected []string
	}{
		{"no out", []string{"train", "--data", data}, []string{"--out is missing"}},
		{"no data", []string{"train", "--out", filepath.Join(dir, "m.bin")}, []string{"--data is missing"}},
		{"missing column", []string{"train", "--data", data, "--out", filepath.Join(dir, "m.bin")}, []string{data + ":1", `no column "text"`, "--text-col"}},
		{"bad validation", []string{"train", "--data", data, "--text-col", "body", "--label-col", "intent", "--validation", "1", "--out", filepath.Join(dir, "m.bin")}, []string{"--validation", "invalid validation fraction"}},
		{"bad format", []string{"train", "--data", data, "--format", "xml", "--out", filepath.Join(dir, "m.bin")}, []string{`invalid --format "xml"`}},
		{"not a model", []string{"eval", "--model", notModel, "--data", data}, []string{notModel, "signature", "mailtriage model train"}},
		{"unknown subcommand", []string{"predict"}, []string{`unknown subcommand "predict"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := modelCommand(context.Background(), tt.args, &bytes.Buffer{})
			if err == nil {
				t.Fatal("got no error")
			}
			for _, part := range tt.expected {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q does not contain %q", err, part)
				}
			}
		})
	}
}

func TestProcessModelFlags(t *testing.T) {
	clearKafkaEnv(t)
	cfg, err := parseProcessConfig([]string{"--brokers", "a:1", "--model", "m.bin", "--model-threshold", "0.7", "--model-queue-map", "q.yaml"}, fixedHost)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.model != (modelFlags{file: "m.bin", threshold: 0.7, queueMap: "q.yaml"}) {
		t.Errorf("model flags %+v, expected m.bin, 0.7 and q.yaml", cfg.model)
	}

	tests := []struct {
		name   string
		args   []string
		expect string
	}{
		{"threshold without model", []string{"--brokers", "a:1", "--model-threshold", "0.7"}, "add --model FILE"},
		{"queue map without model", []string{"--brokers", "a:1", "--model-queue-map", "q.yaml"}, "add --model FILE"},
		{"threshold above 1", []string{"--brokers", "a:1", "--model", "m.bin", "--model-threshold", "1.2"}, "invalid --model-threshold 1.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseProcessConfig(tt.args, fixedHost)
			if err == nil || !strings.Contains(err.Error(), tt.expect) {
				t.Errorf("parseProcessConfig returned %v, expected an error containing %q", err, tt.expect)
			}
		})
	}

	var flags modelFlags
	flags.file = filepath.Join(t.TempDir(), "absent.bin")
	if _, err := flags.load(nil); err == nil || !strings.Contains(err.Error(), "--model") {
		t.Errorf("loading a missing model gave %v, expected an error naming --model", err)
	}
}
