package main

import (
	"strings"
	"testing"
)

func TestSinkSerde(t *testing.T) {
	plain, err := sinkSerde("")
	if err != nil || plain.Confluent() {
		t.Errorf("sinkSerde(\"\") = Confluent %v, error %v; expected a single-object decoder", plain != nil && plain.Confluent(), err)
	}

	withRegistry, err := sinkSerde("http://127.0.0.1:8081")
	if err != nil || !withRegistry.Confluent() {
		t.Errorf("sinkSerde(http URL) = error %v; expected a registry decoder", err)
	}

	_, err = sinkSerde("ftp://user:secret@registry")
	if err == nil || !strings.Contains(err.Error(), "--schema-registry") {
		t.Errorf("sinkSerde(ftp URL) error = %v, expected one naming --schema-registry", err)
	}
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q shows the password", err)
	}
}
