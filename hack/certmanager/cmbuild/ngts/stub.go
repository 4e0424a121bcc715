// Package ngts stands in for vcert's pkg/venafi/ngts, which cert-manager's Venafi issuer
// imports: the vcert releases that have it are refused by the module proxy, so
// hack/certmanager/build-binaries.sh copies this file into its patched copy of an older
// vcert. It is a package of this module too, so that go vet and gofmt see it. An NGTS
// issuer fails when its client is created (the older vcert knows no NGTS connector),
// and Authenticate fails should it ever be reached.
package ngts

import (
	"errors"

	"github.com/Venafi/vcert/v5/pkg/endpoint"
)

// Connector has the type and method cert-manager uses: it embeds endpoint.Connector so
// that a connector can be asserted to *Connector.
type Connector struct{ endpoint.Connector }

// Authenticate always fails: this build has no NGTS connector.
func (c *Connector) Authenticate(*endpoint.Authentication) error {
	return errors.New("NGTS connector not available in this build")
}
