@recorder
Feature: The recorder takes every legal way of writing a recording session
  Webex Calling and BroadWorks send the pre-RFC dialect (no Require: siprec, a ;src
  Contact parameter, metadata part first, no space after a part header's colon); RFC 7866
  SRCs send the other; the metadata media type has two names in use. A recorder that
  platforms send to must take them all.

  @SRS-01
  Scenario: Sessions in the RFC dialect and in the BroadWorks dialect are both taken
    When the platform opens a valid session in each dialect
    Then the recorder takes the sessions of both dialects

  @SRS-09
  Scenario: Both metadata media type names are taken
    When the platform opens a valid session with each metadata media type name
    Then the recorder takes both metadata media type names

  @SRS-10
  Scenario: Either part order, either header spacing and either line end are taken
    When the platform opens a valid session in each body style
    Then the recorder takes every body style
