package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"

	"mailtriage/connectors/ticketing"
	"mailtriage/connectors/ticketing/httpjson"
	"mailtriage/internal/metrics"
)

func init() {
	registerSink("ticketing", runSinkTicketing)
}

// runSinkTicketing runs "mailtriage sink ticketing": it creates tickets
// and comments in Zendesk, Jira Service Management or a REST API until
// SIGTERM or SIGINT.
func runSinkTicketing(ctx context.Context, args []string) error {
	const usage = "usage: mailtriage sink ticketing --target rest|zendesk|jira --url URL --token-file FILE --postgres DSN [--mapping FILE] [--jira-service-desk ID --jira-request-type ID] [--brokers host:port]"

	fs := flag.NewFlagSet("sink ticketing", flag.ContinueOnError)
	var common externalFlags
	common.add(fs, ticketing.DefaultGroup, "ticket ledger (external_tickets, external_comments) and offsets")
	kind := fs.String("target", "", "external system: rest (generic JSON API), zendesk or jira (Jira Service Management)")
	baseURL := fs.String("url", "", "for rest the tickets collection URL (https://host/api/tickets); for zendesk the account URL (https://acme.zendesk.com); for jira the site URL (https://acme.atlassian.net)")
	tokenFile := fs.String("token-file", "", "file that contains the API token, sent as a Bearer token, or as the password with --basic-user")
	basicUser := fs.String("basic-user", "", "use HTTP Basic authentication with this user name: \"agent@example.com/token\" for a Zendesk API token, the account email for a Jira Cloud API token")
	mappingFile := fs.String("mapping", "", "rest only: YAML field mapping (ticket, comment, idField); default maps subject, description, requester, priority, queue, tags, ticketRef and idempotency_key")
	system := fs.String("system", "", "name of the external system in the ledger (default the --target value); give each instance of one kind its own name")
	serviceDesk := fs.String("jira-service-desk", "", "jira only: serviceDeskId of the requests")
	requestType := fs.String("jira-request-type", "", "jira only: requestTypeId of the requests")
	keyField := fs.String("jira-key-field", "", "jira only: text custom field on the request type (such as customfield_10050) that stores the idempotency key; empty stores it in the last line of the description")
	onBehalf := fs.Bool("jira-raise-on-behalf", true, "jira only: raise each request on behalf of the requester's address")
	publicComments := fs.Bool("public-comments", false, "post follow-ups as public comments; the default adds internal notes, because the API user is their author")
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
	client := httpjson.New(nil, httpjson.Auth{Token: token, BasicUser: *basicUser}, *common.requestTimeout)

	var target ticketing.Target
	switch *kind {
	case "rest":
		mapping := ticketing.DefaultMapping()
		if *mappingFile != "" {
			if mapping, err = ticketing.LoadMapping(*mappingFile); err != nil {
				return err
			}
		}
		target = &ticketing.REST{URL: *baseURL, Client: client, Mapping: mapping}
	case "zendesk":
		target = &ticketing.Zendesk{BaseURL: *baseURL, Client: client, PublicComments: *publicComments}
	case "jira":
		if *serviceDesk == "" || *requestType == "" {
			return errors.New("missing --jira-service-desk or --jira-request-type: pass the serviceDeskId and requestTypeId of the requests to create")
		}
		target = &ticketing.Jira{BaseURL: *baseURL, Client: client, ServiceDeskID: *serviceDesk, RequestTypeID: *requestType,
			KeyField: *keyField, RaiseOnBehalfOf: *onBehalf, PublicComments: *publicComments}
	case "":
		return errors.New("missing --target: use rest, zendesk or jira")
	default:
		return fmt.Errorf("invalid --target %q: use rest, zendesk or jira", *kind)
	}
	if *mappingFile != "" && *kind != "rest" {
		return fmt.Errorf("--mapping applies to --target rest only, not %s: drop it", *kind)
	}
	kafkaOpts, err := common.kafka.Opts()
	if err != nil {
		return err
	}
	serde, err := sinkSerde(*common.registryURL)
	if err != nil {
		return err
	}

	rt, err := common.start(ctx, "sink-ticketing")
	if err != nil {
		return err
	}
	defer rt.stop()
	sink, err := ticketing.New(ticketing.Config{
		KafkaOpts: kafkaOpts,
		Pool:      rt.pool,
		Group:     *common.group,
		Target:    target,
		System:    *system,
		Serde:     serde,
		Retry:     common.retryPolicy(httpjson.Unlimited),
		Logger:    rt.log,
		Metrics:   metrics.NewSink(rt.metrics, "ticketing"),
	})
	if err != nil {
		return err
	}
	defer sink.Close()
	return sink.Run(ctx)
}

// checkTargetURL accepts an absolute https URL, or http for a loopback
// test server, and never repeats a query string in its error.
func checkTargetURL(raw string) error {
	if raw == "" {
		return errors.New("missing --url: pass the base URL of the external system")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("invalid --url: give an absolute https:// URL")
	}
	if u.Scheme == "http" && u.Hostname() != "127.0.0.1" && u.Hostname() != "::1" && u.Hostname() != "localhost" {
		return fmt.Errorf("--url uses http on %s, which would send the token in clear text: use https (http is accepted only on a loopback host)", u.Hostname())
	}
	return nil
}
