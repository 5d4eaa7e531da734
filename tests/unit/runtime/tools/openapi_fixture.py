"""A small OpenAPI 3 document for the import and adapter tests."""

from __future__ import annotations

from typing import Any

import yaml

DESK_OPENAPI = """
openapi: 3.0.3
info: {title: Incident desk, version: "1"}
servers:
  - url: "http://{host}/echo"
    variables:
      host: {default: "127.0.0.1:9"}
paths:
  /tickets/{ticket_id}:
    parameters:
      - $ref: "#/components/parameters/TicketId"
    get:
      operationId: getTicket
      summary: Look a ticket up
      parameters:
        - name: verbose
          in: query
          schema: {type: boolean}
        - name: X-Trace
          in: header
          schema: {type: string}
      responses:
        "200":
          $ref: "#/components/responses/TicketAnswer"
  /tickets/{ticket_id}/notes:
    parameters:
      - $ref: "#/components/parameters/TicketId"
    post:
      operationId: addNote
      description: Add a note to the incident.
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewNote"}
      responses:
        "201":
          description: created
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Note"}
  /health:
    get:
      responses: {"200": {description: ok}}
components:
  parameters:
    TicketId:
      name: ticket_id
      in: path
      required: true
      description: The ticket's id.
      schema: {type: string, pattern: "^T-[0-9]+$"}
  schemas:
    NewNote:
      type: object
      required: [text]
      properties:
        text: {type: string, maxLength: 500}
        author: {$ref: "#/components/schemas/Person"}
    Person:
      type: object
      properties:
        name: {type: string, nullable: true}
    Note:
      type: object
      required: [note_id]
      properties:
        note_id: {type: string}
  responses:
    TicketAnswer:
      description: the ticket
      content:
        application/json:
          schema:
            type: object
            properties:
              status: {type: string}
"""


def desk_document() -> dict[str, Any]:
    """The document, parsed (a fresh copy each time)."""
    document: dict[str, Any] = yaml.safe_load(DESK_OPENAPI)
    return document
