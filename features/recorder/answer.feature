@recorder
Feature: The recorder answers a recording session as SIPREC says
  recproof plays the platform (the SIPREC recording client) and opens recording sessions
  at the recorder under test: two sendonly streams, one per party, with labels that are
  not 1 and 2, stream 1 offering PCMU and stream 2 PCMA, and the parties' instrumented
  audio on them. The recorder answers each stream recvonly with the offered label and a
  codec that stream offered, marks its Contact with +sip.srs, answers promptly, and sends
  no RTP back.

  @SRS-02 @SRS-03 @SRS-13 @smoke
  Scenario Outline: A recording session in the "<dialect>" dialect is answered stream by stream
    When the platform records a 6 second call in the "<dialect>" dialect
    Then the recorder's answers carry +sip.srs in their Contact
    And the recorder answers each offered stream recvonly with its label and codec
    And the recorder sends no RTP
    And the recorder answers every recording session within the answer time

    Examples:
      | dialect           |
      | rfc-strict        |
      | broadworks-compat |

  @SRS-12
  Scenario Outline: Each party's audio is recorded apart and attributed to that party, across a pause by <pause>
    When the platform records a call in the "<dialect>" dialect and pauses it with <pause> for 3 seconds
    Then the recorder keeps each party's audio in its own recording, attributed to that party
    And the recorder answers each offered stream recvonly with its label and codec

    Examples:
      | dialect           | pause       |
      | rfc-strict        | a=inactive  |
      | broadworks-compat | c=0.0.0.0   |

  @SRS-03
  Scenario: A pause offered inactive is answered inactive, and the resume recvonly
    When the platform records a call in the "rfc-strict" dialect and pauses it with a=inactive for 3 seconds
    Then the recorder answers the pause inactive and the resume recvonly
    And the recorder answers each offered stream recvonly with its label and codec

  @SRS-07
  Scenario: The recorder's requests for a metadata snapshot are well formed
    When the platform records a 6 second call in the "rfc-strict" dialect
    Then the recorder's snapshot requests are well formed
    And the recorder answers each offered stream recvonly with its label and codec

  @SRS-11
  Scenario: A recorder that stops recording on its own ends the session with BYE
    When the recorder stops recording on its own 4 seconds into a 10 second call
    Then the recorder ends the session itself with BYE
