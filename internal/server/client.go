package server

import (
	"context"
	"log/slog"
	"strings"

	"github.com/google/uuid"

	"github.com/vroauth/vroauth/auth"
	"github.com/vroauth/vroauth/gen"
	"github.com/vroauth/vroauth/internal/core"
)

// CreateClient implements POST Clients: a user creates a client account and sees its
// secret once. Clients cannot create clients.
func (s *Server) CreateClient(ctx context.Context, _ gen.CreateClientRequestObject) (gen.CreateClientResponseObject, error) {
	p, _ := auth.FromContext(ctx)
	if p == nil {
		return nil, errNoPrincipal
	}
	if p.Kind != auth.KindUser {
		return gen.CreateClient403JSONResponse{ForbiddenJSONResponse: forbidden("client accounts cannot create client accounts")}, nil
	}
	secret := core.NewToken()
	// A time-ordered GUID: client churn then writes at the end of the clients index.
	c := &core.Client{ID: core.NewOrderedID(s.now()), UserID: p.UserID, SecretHash: s.secrets.Hash(secret)}
	if err := s.store.CreateClient(ctx, c); err != nil {
		return nil, err
	}
	Audit(ctx, s.log, slog.LevelInfo, EventClientCreated, slog.String("client_id", c.ID), slog.String("user_id", p.UserID))
	return gen.CreateClient200JSONResponse{ClientId: uuid.MustParse(c.ID), ClientSecret: secret}, nil
}

// ListClients implements GET Clients: a user sees the clients it created, a client only
// itself.
func (s *Server) ListClients(ctx context.Context, _ gen.ListClientsRequestObject) (gen.ListClientsResponseObject, error) {
	p, _ := auth.FromContext(ctx)
	if p == nil {
		return nil, errNoPrincipal
	}
	if p.Kind == auth.KindClient {
		return gen.ListClients200JSONResponse{uuid.MustParse(p.ID)}, nil
	}
	ids, err := s.store.FindClientIDs(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	list := make(gen.ListClients200JSONResponse, 0, len(ids))
	for _, id := range ids {
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, err
		}
		list = append(list, u)
	}
	return list, nil
}

// DeleteClient implements DELETE Clients?clientId=: a user deletes any of its own
// clients, a client only itself. Someone else's client is answered as a missing one.
func (s *Server) DeleteClient(ctx context.Context, req gen.DeleteClientRequestObject) (gen.DeleteClientResponseObject, error) {
	p, _ := auth.FromContext(ctx)
	if p == nil {
		return nil, errNoPrincipal
	}
	id := strings.ToLower(req.Params.ClientId.String())
	notFound := gen.DeleteClient404JSONResponse{NotFoundJSONResponse: gen.NotFoundJSONResponse(apiError("NotFound", "client not found", id))}
	c, err := s.store.FindClient(ctx, id)
	switch {
	case core.ErrorCode(err) == core.ENOTFOUND:
		return notFound, nil
	case err != nil:
		return nil, err
	case c.UserID != p.UserID:
		return notFound, nil
	case p.Kind == auth.KindClient && p.ID != c.ID:
		return gen.DeleteClient403JSONResponse{ForbiddenJSONResponse: forbidden("a client account may delete only itself")}, nil
	}
	switch err := s.store.DeleteClient(ctx, id); core.ErrorCode(err) {
	case "":
	case core.ENOTFOUND:
		return notFound, nil
	default:
		return nil, err
	}
	s.known.forgetClient(id)
	Audit(ctx, s.log, slog.LevelInfo, EventClientDeleted, slog.String("client_id", id), slog.String("user_id", p.UserID),
		slog.String("principal_kind", string(p.Kind)), slog.String("principal_id", p.ID))
	return gen.DeleteClient204Response{}, nil
}
