"""De-identification of a DICOM header by the Basic Profile of DICOM PS3.15 Annex E.

The action table below follows Table E.1-1 (Basic Application Level Confidentiality Profile) for
the attributes a radiograph header carries; on top of it, rules by value representation catch
what the table does not name:

* every person name (PN) is emptied,
* every date, time and date-time (DA, TM, DT) is emptied, or shifted by a fixed number of days
  when ``date_shift_days`` is given (the "Retain Longitudinal Temporal Information with Modified
  Dates" option, code 113107),
* every UID that is not a registered DICOM UID (SOP classes, transfer syntaxes) is replaced by a
  new one, consistently through a :class:`UidMap`,
* private tags, overlays and curves are removed,
* sequences are processed recursively.

The result records PatientIdentityRemoved YES, the method in words and as codes (113100, plus
113107 when dates were shifted).
"""

from __future__ import annotations

import datetime as _dt
import secrets

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID_dictionary, generate_uid

from napari_xray_synth import __version__

#: Basic Profile actions: X remove, Z empty (zero length), D dummy value, U new UID.
BASIC_PROFILE: dict[str, str] = {
    "AccessionNumber": "Z",
    "AcquisitionComments": "X",
    "AcquisitionDeviceProcessingDescription": "X",
    "ActualHumanPerformersSequence": "X",
    "AdditionalPatientHistory": "X",
    "AdmissionID": "X",
    "AdmittingDiagnosesCodeSequence": "X",
    "AdmittingDiagnosesDescription": "X",
    "Allergies": "X",
    "Arbitrary": "X",
    "AuthorObserverSequence": "X",
    "BranchOfService": "X",
    "CommentsOnThePerformedProcedureStep": "X",
    "ConsultingPhysicianName": "X",
    "ContentCreatorName": "Z",
    "ContributionDescription": "X",
    "CountryOfResidence": "X",
    "CurrentPatientLocation": "X",
    "CurveData": "X",
    "CustodialOrganizationSequence": "X",
    "DerivationDescription": "X",
    "DetectorID": "X",
    "DeviceDescription": "X",
    "DeviceSerialNumber": "X",
    "DigitalSignaturesSequence": "X",
    "DischargeDiagnosisDescription": "X",
    "EthnicGroup": "X",
    "FillerOrderNumberImagingServiceRequest": "X",
    "FrameComments": "X",
    "GantryID": "X",
    "GeneratorID": "X",
    "IdentifyingComments": "X",
    "ImageComments": "X",
    "ImagePresentationComments": "X",
    "ImagingServiceRequestComments": "X",
    "InstitutionAddress": "X",
    "InstitutionCodeSequence": "X",
    "InstitutionName": "X",
    "InstitutionalDepartmentName": "X",
    "InsurancePlanIdentification": "X",
    "IntendedRecipientsOfResultsIdentificationSequence": "X",
    "InterpretationApproverSequence": "X",
    "InterpretationAuthor": "X",
    "InterpretationRecorder": "X",
    "InterpretationText": "X",
    "InterpretationTranscriber": "X",
    "IssuerOfAdmissionID": "X",
    "IssuerOfPatientID": "X",
    "IssuerOfServiceEpisodeID": "X",
    "MedicalAlerts": "X",
    "MedicalRecordLocator": "X",
    "MilitaryRank": "X",
    "ModifiedAttributesSequence": "X",
    "ModifyingDeviceID": "X",
    "NameOfPhysiciansReadingStudy": "X",
    "NamesOfIntendedRecipientsOfResults": "X",
    "Occupation": "X",
    "OperatorIdentificationSequence": "X",
    "OperatorsName": "X",
    "OriginalAttributesSequence": "X",
    "OtherPatientIDs": "X",
    "OtherPatientIDsSequence": "X",
    "OtherPatientNames": "X",
    "OverlayComments": "X",
    "OverlayData": "X",
    "ParticipantSequence": "X",
    "PatientAddress": "X",
    "PatientAge": "X",
    "PatientBirthDate": "Z",
    "PatientBirthName": "X",
    "PatientBirthTime": "X",
    "PatientComments": "X",
    "PatientID": "Z",
    "PatientInsurancePlanCodeSequence": "X",
    "PatientMotherBirthName": "X",
    "PatientName": "Z",
    "PatientPrimaryLanguageCodeSequence": "X",
    "PatientReligiousPreference": "X",
    "PatientSex": "Z",
    "PatientSexNeutered": "X",
    "PatientSize": "X",
    "PatientState": "X",
    "PatientTelecomInformation": "X",
    "PatientTelephoneNumbers": "X",
    "PatientTransportArrangements": "X",
    "PatientWeight": "X",
    "PerformedLocation": "X",
    "PerformedProcedureStepDescription": "X",
    "PerformedProcedureStepID": "X",
    "PerformedStationAETitle": "X",
    "PerformedStationName": "X",
    "PerformingPhysicianIdentificationSequence": "X",
    "PerformingPhysicianName": "X",
    "PersonAddress": "X",
    "PersonIdentificationCodeSequence": "X",
    "PersonName": "X",
    "PersonTelephoneNumbers": "X",
    "PhysicianApprovingInterpretation": "X",
    "PhysiciansOfRecord": "X",
    "PhysiciansOfRecordIdentificationSequence": "X",
    "PhysiciansReadingStudyIdentificationSequence": "X",
    "PlacerOrderNumberImagingServiceRequest": "X",
    "PlateID": "X",
    "PreMedication": "X",
    "PregnancyStatus": "X",
    "ProtocolName": "X",
    "ReasonForImagingServiceRequest": "X",
    "ReasonForStudy": "X",
    "ReferencedPatientAliasSequence": "X",
    "ReferencedPatientSequence": "X",
    "ReferencedStudySequence": "X",
    "ReferringPhysicianAddress": "X",
    "ReferringPhysicianIdentificationSequence": "X",
    "ReferringPhysicianName": "Z",
    "ReferringPhysicianTelephoneNumbers": "X",
    "RegionOfResidence": "X",
    "RequestAttributesSequence": "X",
    "RequestedContrastAgent": "X",
    "RequestedProcedureComments": "X",
    "RequestedProcedureDescription": "X",
    "RequestedProcedureID": "X",
    "RequestedProcedureLocation": "X",
    "RequestingPhysician": "X",
    "RequestingService": "X",
    "ResponsibleOrganization": "X",
    "ResponsiblePerson": "X",
    "ResultsComments": "X",
    "ResultsDistributionListSequence": "X",
    "ResultsIDIssuer": "X",
    "ScheduledHumanPerformersSequence": "X",
    "ScheduledPatientInstitutionResidence": "X",
    "ScheduledPerformingPhysicianIdentificationSequence": "X",
    "ScheduledProcedureStepDescription": "X",
    "ScheduledProcedureStepLocation": "X",
    "ScheduledStationAETitle": "X",
    "ScheduledStationName": "X",
    "ScheduledStudyLocation": "X",
    "ScheduledStudyLocationAETitle": "X",
    "SeriesDescription": "X",
    "ServiceEpisodeDescription": "X",
    "ServiceEpisodeID": "X",
    "SmokingStatus": "X",
    "SourceImageSequence": "X",
    "SpecialNeeds": "X",
    "StationName": "X",
    "StudyComments": "X",
    "StudyDescription": "X",
    "StudyID": "Z",
    "StudyIDIssuer": "X",
    "TextComments": "X",
    "TextString": "X",
    "TopicAuthor": "X",
    "TopicKeywords": "X",
    "TopicSubject": "X",
    "TopicTitle": "X",
    "VerifyingObserverIdentificationCodeSequence": "X",
    "VerifyingObserverName": "D",
    "VerifyingObserverSequence": "D",
    "VerifyingOrganization": "X",
    "VisitComments": "X",
}

BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
MODIFIED_DATES_CODE = (
    "113107",
    "DCM",
    "Retain Longitudinal Temporal Information Modified Dates Option",
)
METHOD_TEXT = "PS3.15 E Basic Profile{}; napari-xray-synth " + __version__


class UidMap:
    """Replaces UIDs consistently: the same original UID always gets the same new one.

    The new UIDs come from :func:`pydicom.uid.generate_uid` fed with the original and a random
    secret of this map, so they cannot be recomputed from the original without the secret.
    """

    def __init__(self, secret: str | None = None) -> None:
        self._secret = secret or secrets.token_hex(16)
        self._map: dict[str, str] = {}

    def __call__(self, uid: str) -> str:
        """The replacement of ``uid``."""
        uid = str(uid)
        if uid not in self._map:
            self._map[uid] = str(generate_uid(entropy_srcs=[self._secret, uid]))
        return self._map[uid]


def _shift_date(value: str, days: int) -> str:
    try:
        d = _dt.datetime.strptime(str(value)[:8], "%Y%m%d").date()
    except ValueError:
        return ""
    return (d + _dt.timedelta(days=days)).strftime("%Y%m%d")


def _is_registered_uid(value: str) -> bool:
    return str(value) in UID_dictionary


def _code_item(code: tuple[str, str, str]) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code
    return item


def _empty(elem: DataElement) -> None:
    elem.value = Sequence() if elem.VR == "SQ" else ""


def _walk(ds: Dataset, uid_map: UidMap, date_shift_days: int | None) -> None:
    """Apply the profile to one dataset level, recursing into sequences."""
    # collect first: the dataset changes while we go
    for elem in list(ds):
        tag = elem.tag
        if (
            tag.is_private
            or tag.group in range(0x5000, 0x5100, 2)
            or (0x6000 <= tag.group <= 0x60FF and tag.element in (0x3000, 0x4000))
        ):
            del ds[tag]
            continue
        action = BASIC_PROFILE.get(elem.keyword)
        if action == "X":
            del ds[tag]
            continue
        if action == "Z":
            _empty(elem)
            continue
        if action == "D":
            if elem.VR == "SQ":
                elem.value = Sequence()
            elif elem.VR == "PN":
                elem.value = "ANONYMOUS"
            else:
                _empty(elem)
            continue
        vr = elem.VR
        if vr == "SQ":
            for item in elem.value:
                _walk(item, uid_map, date_shift_days)
        elif vr == "PN":
            _empty(elem)
        elif vr in ("DA", "DT"):
            if date_shift_days is not None and vr == "DA" and elem.value:
                vals = elem.value if elem.VM > 1 else [elem.value]
                shifted = [_shift_date(v, date_shift_days) for v in vals]
                elem.value = shifted if elem.VM > 1 else shifted[0]
            else:
                _empty(elem)
        elif vr == "TM":
            if date_shift_days is None:
                _empty(elem)
        elif vr == "UI" and elem.value:
            vals = elem.value if elem.VM > 1 else [elem.value]
            new = [v if _is_registered_uid(v) else uid_map(v) for v in vals]
            elem.value = new if elem.VM > 1 else new[0]


def deidentify(
    ds: Dataset,
    uid_map: UidMap | None = None,
    date_shift_days: int | None = None,
) -> Dataset:
    """De-identify ``ds`` in place by the Basic Profile and record that it was done.

    Parameters
    ----------
    ds : pydicom.Dataset
        The header (the file meta is not touched; build a new one when writing).
    uid_map : UidMap, optional
        Shared across the files of one export so that a study keeps one (new) Study UID.
    date_shift_days : int, optional
        Shift dates by this many days instead of removing them (times are then kept).

    Returns
    -------
    pydicom.Dataset
        ``ds`` itself.
    """
    uid_map = uid_map or UidMap()
    _walk(ds, uid_map, date_shift_days)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and meta.get("MediaStorageSOPInstanceUID"):
        meta.MediaStorageSOPInstanceUID = uid_map(meta.MediaStorageSOPInstanceUID)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = METHOD_TEXT.format(
        ", dates shifted" if date_shift_days is not None else ""
    )[:64]
    codes = [_code_item(BASIC_PROFILE_CODE)]
    if date_shift_days is not None:
        codes.append(_code_item(MODIFIED_DATES_CODE))
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
    else:
        ds.LongitudinalTemporalInformationModified = "REMOVED"
    ds.DeidentificationMethodCodeSequence = Sequence(codes)
    return ds
