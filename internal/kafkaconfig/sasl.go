package kafkaconfig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ErrEmptySecret is wrapped when a password or token file is empty.
var ErrEmptySecret = errors.New("secret file is empty")

// mechanism builds the SASL mechanism of s. Validate must have passed.
// Secrets in files are read here once to fail early, and again by the
// mechanism on every authentication.
func (s *SASL) mechanism() (sasl.Mechanism, error) {
	switch s.Mechanism {
	case MechanismPlain, MechanismSCRAMSHA256, MechanismSCRAMSHA512:
		return s.userPasswordMechanism()
	case MechanismOAuthBearer:
		return s.tokenMechanism()
	}
	return nil, fmt.Errorf("%s %q is not supported", key("sasl.mechanism"), s.Mechanism)
}

func (s *SASL) userPasswordMechanism() (sasl.Mechanism, error) {
	user, static, file := s.Username, s.Password, s.PasswordFile
	password := func() (string, error) {
		if file == "" {
			return static, nil
		}
		return readSecret(file, "sasl.password-file")
	}
	if _, err := password(); err != nil {
		return nil, err
	}

	switch s.Mechanism {
	case MechanismPlain:
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			pass, err := password()
			return plain.Auth{User: user, Pass: pass}, err
		}), nil
	case MechanismSCRAMSHA256:
		return scram.Sha256(func(context.Context) (scram.Auth, error) {
			pass, err := password()
			return scram.Auth{User: user, Pass: pass}, err
		}), nil
	}
	return scram.Sha512(func(context.Context) (scram.Auth, error) {
		pass, err := password()
		return scram.Auth{User: user, Pass: pass}, err
	}), nil
}

func (s *SASL) tokenMechanism() (sasl.Mechanism, error) {
	static, file := s.Token, s.TokenFile
	token := func() (string, error) {
		if file == "" {
			return static, nil
		}
		return readSecret(file, "sasl.token-file")
	}
	if _, err := token(); err != nil {
		return nil, err
	}

	return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
		tok, err := token()
		return oauth.Auth{Token: tok}, err
	}), nil
}

// readSecret reads a password or token from path and drops one trailing
// newline, as editors and `echo` add. The error names the setting, never
// the content.
func readSecret(path, name string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", key(name), err)
	}
	secret := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
	if secret == "" {
		return "", fmt.Errorf("%s %s: %w: write the secret into it", key(name), path, ErrEmptySecret)
	}
	return secret, nil
}
