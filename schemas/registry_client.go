package schemas

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

// NewRegistryClient returns a client of the Confluent-compatible schema
// registry at rawURL, such as "https://registry.example.com:8081". User
// information in the URL ("https://user:password@host") becomes HTTP basic
// authentication and is removed from the URL the client requests, so that
// it never appears in errors. RedactURL gives the form to log.
func NewRegistryClient(rawURL string, opts ...sr.ClientOpt) (*sr.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("schema registry URL %q is invalid: write it as http://host:port or https://host:port", RedactURL(rawURL))
	}

	if u.User != nil {
		password, _ := u.User.Password()
		opts = append(opts, sr.BasicAuth(u.User.Username(), password))
		u.User = nil
	}
	client, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(u.String())}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating the schema registry client for %s: %w", u.Redacted(), err)
	}
	return client, nil
}

// RedactURL returns rawURL with its password, if any, replaced by "xxxxx",
// or a placeholder when rawURL does not parse.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// contractForID returns the contract of schema ID id. It looks up an ID
// it has not seen in the registry and caches the result unless the
// request failed.
func (s *Serde) contractForID(ctx context.Context, id uint32) (*contract, error) {
	s.mu.RLock()
	c, seen := s.byID[id]
	s.mu.RUnlock()
	if !seen {
		if s.registry == nil {
			return nil, fmt.Errorf("schemas: %w: the record uses the Confluent wire format with schema ID %d, but no schema registry is configured: configure the registry that the producer used",
				ErrUnknownSchemaID, id)
		}

		var err error
		c, err = s.lookupID(ctx, id)
		if err != nil {
			return nil, err
		}
		s.remember(id, c)
	}

	if c == nil {
		return nil, fmt.Errorf("schemas: %w: schema ID %d in the registry is not one of the contracts this build knows, so the writer may use a newer schema version: upgrade this reader, or check which topic the record came from",
			ErrUnknownSchemaID, id)
	}
	return c, nil
}

// maxUnknownIDs bounds how many schema IDs that are not contracts a Serde
// remembers, so that records with random bytes after a zero byte cannot
// grow its memory without bound. IDs past the limit are looked up again
// on every record.
const maxUnknownIDs = 1024

// remember stores what schema ID id stands for, nil for an ID that is not
// a contract.
func (s *Serde) remember(id uint32, c *contract) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c == nil {
		if s.unknownIDs >= maxUnknownIDs {
			return
		}
		s.unknownIDs++
	}
	s.byID[id] = c
}

// lookupID fetches schema ID id from the registry and matches it to a
// contract by its canonical form, which ignores formatting, doc strings,
// defaults and logical types. It returns
// nil and no error when the schema is not one of the contracts.
func (s *Serde) lookupID(ctx context.Context, id uint32) (*contract, error) {
	schema, err := s.registry.SchemaByID(ctx, int(id))
	if err != nil {
		var re *sr.ResponseError
		if errors.As(err, &re) && re.StatusCode == 404 {
			return nil, nil
		}
		return nil, fmt.Errorf("schemas: %w: looking up schema ID %d: %w", ErrRegistry, id, err)
	}
	if schema.Type != sr.TypeAvro {
		return nil, nil
	}

	form, err := stableCanonicalForm(schema.Schema)
	if err != nil {
		return nil, nil
	}
	return contractsByStableForm()[form], nil
}

// contractsByStableForm maps the stable canonical form of every contract
// to the contract.
var contractsByStableForm = sync.OnceValue(func() map[string]*contract {
	byForm := make(map[string]*contract, len(contractsByName))
	for _, c := range contractsByName {
		form, err := stableCanonicalForm(c.text)
		if err != nil {
			panic(fmt.Sprintf("schemas: the embedded %s does not parse again from its canonical form: %v", c.file, err))
		}
		byForm[form] = c
	}
	return byForm
})

// stableCanonicalForm returns the Parsing Canonical Form of schema as
// goavro computes it, parsed and computed a second time.
//
// NOTE: goavro v2.15 keeps a primitive with a logical type in object form
// ({"type":"long"}) where the Avro specification reduces it to "long", so
// its canonical form, and the fingerprint over it, change when a registry
// returns the canonical text of a schema. The second pass reaches the
// form that does not change.
func stableCanonicalForm(schema string) (string, error) {
	codec, err := goavro.NewCodec(schema)
	if err != nil {
		return "", err
	}
	again, err := goavro.NewCodec(codec.CanonicalSchema())
	if err != nil {
		return "", err
	}
	return again.CanonicalSchema(), nil
}
