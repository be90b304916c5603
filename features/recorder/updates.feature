@recorder
Feature: The recorder takes metadata updates during a session
  After the initial INVITE, a recording client sends metadata when the call changes: a
  partial update (only what changed, referring to what the complete document defined) or
  a complete one in an UPDATE without SDP, and a complete one beside the SDP of a
  re-INVITE. The recorder answers each with 2xx. Whether it applied a partial update on
  top of its stored state can only be read from its own metadata export, which these
  scenarios do not read.

  @SRS-06
  Scenario Outline: Metadata updates in the "<dialect>" dialect are taken: partial and complete in UPDATE, complete in a re-INVITE
    When the platform records a call in the "<dialect>" dialect and updates its metadata partially, completely and in a re-INVITE
    Then the recorder takes every metadata update
    And the recorder answers each offered stream recvonly with its label and codec

    Examples:
      | dialect           |
      | rfc-strict        |
      | broadworks-compat |
