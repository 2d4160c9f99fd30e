package main

import (
	"context"
	"flag"
	"fmt"

	"mailtriage/connectors/crm"
	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/internal/metrics"
)

func init() {
	registerSink("crm", runSinkCRM)
}

// runSinkCRM runs "mailtriage sink crm": it upserts the requester of each
// new ticket as a CRM contact until SIGTERM or SIGINT.
func runSinkCRM(ctx context.Context, args []string) error {
	const usage = "usage: mailtriage sink crm --url URL --token-file FILE --postgres DSN [--brokers host:port] [--group name]"

	fs := flag.NewFlagSet("sink crm", flag.ContinueOnError)
	var common externalFlags
	common.add(fs, crm.DefaultGroup, "contact ledger (crm_contacts) and offsets")
	baseURL := fs.String("url", "", "contacts collection URL of the CRM's REST API, such as https://crm.example.com/api/contacts")
	tokenFile := fs.String("token-file", "", "file that contains the API token, sent as a Bearer token, or as the password with --basic-user")
	basicUser := fs.String("basic-user", "", "use HTTP Basic authentication with this user name")
	system := fs.String("system", crm.DefaultSystem, "name of the CRM in the ledger")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), usage)
	}
	if err := common.validate(); err != nil {
		return err
	}
	if err := checkTargetURL(*baseURL); err != nil {
		return err
	}
	token, err := readToken("--token-file", *tokenFile)
	if err != nil {
		return err
	}
	kafkaOpts, err := common.kafka.Opts()
	if err != nil {
		return err
	}
	serde, err := sinkSerde(*common.registryURL)
	if err != nil {
		return err
	}

	rt, err := common.start(ctx, "sink-crm")
	if err != nil {
		return err
	}
	defer rt.stop()
	sink, err := crm.New(crm.Config{
		KafkaOpts: kafkaOpts,
		Pool:      rt.pool,
		Group:     *common.group,
		URL:       *baseURL,
		Client:    httpjson.New(nil, httpjson.Auth{Token: token, BasicUser: *basicUser}, *common.requestTimeout),
		System:    *system,
		Serde:     serde,
		Retry:     common.retryPolicy(httpjson.Unlimited),
		Logger:    rt.log,
		Metrics:   metrics.NewSink(rt.metrics, "crm"),
	})
	if err != nil {
		return err
	}
	defer sink.Close()
	return sink.Run(ctx)
}
