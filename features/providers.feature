Feature: The recording provider comes from the organisation, unless the location overrides it
  The organisation has a default recording provider (Dubber by default). A location
  either uses the organisation's provider or overrides it with another one, or with
  "None", which means its people are not recorded.

  @POL-11 @smoke @external
  Scenario: People at a location that uses the organisation default go to the organisation's recorder
    Given the organisation records with provider "Dubber"
    And the callee's recording mode is "Always"
    When the caller calls the callee and they talk for 10 seconds
    Then the recording session goes to the "Dubber" recorder

  @POL-11
  Scenario: A location override sends its people's recordings to the override provider
    Given the organisation records with provider "Dubber"
    And the callee's location overrides the provider with "Imagicle"
    And the callee's recording mode is "Always"
    When the caller calls the callee and they talk for 10 seconds
    Then the recording session goes to the "Imagicle" recorder

  @POL-12
  Scenario: Provider "None" at the location means nobody there is recorded
    Given the organisation records with provider "Dubber"
    And the callee's location overrides the provider with "None"
    And the callee's recording mode is "Always"
    When the caller calls the callee and they talk for 10 seconds
    Then the call is not recorded

  @POL-12
  Scenario: Provider "None" for the organisation means nobody is recorded
    Given the organisation records with provider "None"
    And the callee's recording mode is "Always"
    When the caller calls the callee and they talk for 10 seconds
    Then the call is not recorded
