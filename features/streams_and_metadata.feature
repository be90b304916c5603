Feature: A recorded call gives the recorder two labelled streams, one per party, described by metadata
  The recording session carries one stream per party (mode separate). The SDP labels
  match the streams in the metadata, and each stream carries only the audio of the
  participant the metadata ties to it, whatever its label.

  Background:
    Given the organisation records with provider "Dubber"
    And the callee's recording mode is "Always"

  @POL-09 @SRC-10 @SRC-11 @smoke @external
  Scenario: Two streams whose labels match the metadata, each with one party's audio
    When the caller calls the callee and they talk for 10 seconds
    Then the recorder receives two streams whose labels match the metadata
    And each recorded stream carries only its own party's audio

  @SRC-02 @SRC-03 @SRC-04 @SRC-05 @SRC-06 @SRC-07 @SRC-08 @SRC-09 @SRC-10 @SRC-11 @SRC-12 @SRC-13 @SRC-23
  Scenario Outline: The recording session request follows the "<dialect>" rules
    Given the metadata dialect is "<dialect>"
    When the caller calls the callee and they talk for 10 seconds
    Then every recording session request passes the "<dialect>" checks

    Examples:
      | dialect           |
      | broadworks-compat |
      | rfc-strict        |
