package main

import (
	"flag"
	"fmt"

	"mailtriage/schemas"
)

// schemaRegistryUsage is the help text of the --schema-registry flag of
// every sink.
const schemaRegistryUsage = "Confluent schema registry `URL` for records in the Confluent wire format, as \"mailtriage process --schema-registry\" writes them; empty decodes single-object encoding only"

// addSchemaRegistryFlag registers --schema-registry on fs.
func addSchemaRegistryFlag(fs *flag.FlagSet) *string {
	return fs.String("schema-registry", "", schemaRegistryUsage)
}

// sinkSerde returns the decoder of a sink: single-object encoding only
// when registryURL is empty, and otherwise both framings, with schema IDs
// looked up in the registry. It registers nothing.
func sinkSerde(registryURL string) (*schemas.Serde, error) {
	if registryURL == "" {
		return schemas.NewSingleObject(), nil
	}
	client, err := schemas.NewRegistryClient(registryURL)
	if err != nil {
		return nil, fmt.Errorf("--schema-registry: %w", err)
	}
	return schemas.NewRegistryDecoder(client)
}
